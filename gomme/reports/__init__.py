"""What auditors read: the HTML audit report and the Art 30 register."""
