-- A client's report of what it holds was stored unchecked: one naming a data
-- bundle or a receipt batch far above what central made for it (up to
-- 2^63-1) made every later number for that client overflow, and no export nor
-- result import for it succeeded again. Reports are checked since
-- (store.Client.CheckDataSeq, CheckReceiptSeq: at most RestoreWindow, 2^20,
-- above the last central made); one stored beyond that is brought back to the
-- last central made.
UPDATE clients SET acked_seq = MAX(next_seq, data_seq)
    WHERE acked_seq > MAX(next_seq, data_seq) + 1048576;
UPDATE clients SET acked_receipt_seq = receipt_seq
    WHERE acked_receipt_seq > receipt_seq + 1048576;
