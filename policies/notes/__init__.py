"""The sensitive-note scanner: FR/EN/DE lexicons of Art 9/Art 10 data and insults, and sentence redaction."""
