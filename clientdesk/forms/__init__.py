"""Field validators and normalisers shared by admin forms, the create wizard and import rows."""
