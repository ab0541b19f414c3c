"""Da Vinci PAS and CRD: FHIR in and out of the service's own requests and decisions."""
