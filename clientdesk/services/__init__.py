"""The outside world behind small interfaces (company register, mail, Peppol access point, delivery)."""
