-- Central: result documents are stored compressed, in result_zst: one zstd
-- frame of the document's bytes (an assessmentResult of 4 KiB takes about
-- 1 KiB, so an import writes a quarter of the bytes). result_xml is '' for
-- those rows; rows received before keep their document in result_xml, with
-- result_zst NULL.
ALTER TABLE executions ADD COLUMN result_zst BLOB;
