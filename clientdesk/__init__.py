"""ClientDesk: the back office for firms that manage hundreds of client companies."""
