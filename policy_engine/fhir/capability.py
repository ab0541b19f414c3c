"""What this FHIR endpoint offers, as a CapabilityStatement (``GET /fhir/metadata``)."""

from __future__ import annotations

from typing import Any

from .. import __version__

PAS_IG = "http://hl7.org/fhir/us/davinci-pas/ImplementationGuide/hl7.fhir.us.davinci-pas"
PAS_OPERATIONS = "http://hl7.org/fhir/us/davinci-pas/OperationDefinition"


def capability_statement(published: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": published,
        "publisher": "policy-engine",
        "kind": "instance",
        "software": {"name": "policy-engine", "version": __version__},
        "implementation": {"description": "Prior authorization (Da Vinci PAS) over the policy engine"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/json"],
        "implementationGuide": [PAS_IG],
        "rest": [
            {
                "mode": "server",
                "documentation": "Coverage discovery (Da Vinci CRD) is served as CDS Hooks at /cds-services.",
                "security": {
                    "description": (
                        "Every operation but this statement needs 'Authorization: Bearer <token>' with a "
                        "submitter token issued by 'policy-engine tokens create'."
                    )
                },
                "resource": [
                    {
                        "type": "Claim",
                        "supportedProfile": [
                            "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claim",
                        ],
                        "operation": [
                            {"name": "submit", "definition": f"{PAS_OPERATIONS}/Claim-submit"},
                            {"name": "inquire", "definition": f"{PAS_OPERATIONS}/Claim-inquiry"},
                        ],
                    },
                    {
                        "type": "ClaimResponse",
                        "supportedProfile": [
                            "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claimresponse",
                        ],
                    },
                ],
            }
        ],
    }
