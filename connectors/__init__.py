"""CRM connectors: the contract, the canonical record, and one module per CRM."""
