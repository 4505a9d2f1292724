"""Rules and code tables that turn lesion frames into CPT and ICD-10-CM suggestions."""
