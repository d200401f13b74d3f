"""gomme's own state: runs, the write-ahead change log, the audit chain, cursors, suppression."""
