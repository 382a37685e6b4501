-- The rows of the DIRBS lists as each organisation last imported them, whatever their status, as
-- DIRBS keeps its lists: what a delta's adds, removes and updates are checked against, and where
-- a pairing's MSISDN is kept (DIRBS keys a pairing on IMEI, IMSI and MSISDN; the registry's
-- exception entry is the IMEI and IMSI). list is the DIRBS list (stolen, registration, pairing,
-- barred, barred_tac, monitoring); subject and imsi are as in list_entry; msisdn is '' but for
-- pairings; fields holds the row's other columns, a JSON object written by the importer.
CREATE TABLE dirbs_list_row (
    list TEXT NOT NULL,
    org TEXT NOT NULL,
    subject BIGINT NOT NULL,
    imsi BIGINT NOT NULL,
    msisdn TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (list, org, subject, imsi, msisdn)
);

-- Entries imported before this table existed become its rows, without their other columns and
-- pairings without their MSISDN, until the next full import of their list gives them.
INSERT INTO dirbs_list_row (list, org, subject, imsi, msisdn, fields)
SELECT reference, org, subject, imsi, '', '{}'
FROM list_entry
WHERE (list = 'blocked' AND reference IN ('stolen', 'barred'))
   OR (list = 'permitted' AND reference = 'registration')
   OR (list = 'exception' AND reference = 'pairing')
   OR (list = 'barred_tac' AND reference = 'barred_tac')
   OR (list = 'tracked' AND reference = 'monitoring');
