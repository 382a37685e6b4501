-- An operator organisation is bound to the networks (MCC-MNC) it runs: it sees its own
-- subscribers' identifiers and no one else's. NULL for networks with no organisation on this
-- node (the partner country's operators).
ALTER TABLE operator ADD COLUMN org TEXT REFERENCES organisation (id);

-- Lists are paged by (subject, seq): seq is unique per entry, and unlike the IMSI of an
-- exception it can appear in a cursor.
CREATE INDEX list_entry_page ON list_entry (list, subject, seq);
