"""Independent CRM fixtures: a Salesforce org and a HubSpot portal seeded the way admins set them up.

Built from the CRMs' documentation (docs/real-orgs.md) and the law (docs/law.md, the `cnil` pack), never from
gomme's own mapping code, so they catch what fakes mirroring gomme's defaults cannot. Every seeded person carries
a label (`orgs.labels`): what must happen to it in the CRM, and why.
"""
