-- PostgreSQL: reports stored unchecked brought back (../0007_client_reports.sql).
UPDATE clients SET acked_seq = greatest(next_seq, data_seq)
    WHERE acked_seq > greatest(next_seq, data_seq) + 1048576;
UPDATE clients SET acked_receipt_seq = receipt_seq
    WHERE acked_receipt_seq > receipt_seq + 1048576;
