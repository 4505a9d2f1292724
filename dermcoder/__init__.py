"""DermCoder: CPT and ICD-10-CM suggestions, with evidence, from dermatology procedure notes."""

__version__ = "0.1.0"
