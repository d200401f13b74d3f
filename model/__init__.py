"""The words every part of gomme shares: the person record, actions and changes, conditions, the field schema."""
