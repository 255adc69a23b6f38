"""The outside world behind small interfaces: mail, company register, Peppol, document delivery."""
