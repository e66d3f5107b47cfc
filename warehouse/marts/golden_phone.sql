-- The phone and mobile numbers of each golden customer, from its customer records and its contacts in every system:
-- the last 11 digits of each number of at least 7 digits (separators aside). What cross_sell reads to
-- find customers sharing a number; kept as a mart so that a run refreshes the numbers of the golden customers that
-- changed instead of reading every number again.
--
-- The `changed:` comments after TRUE: where a refresh narrows the records to those of the changed golden customers
-- (pipelines/mart_refresh.py); in a whole build they are TRUE.
WITH numbers AS (
    SELECT x.golden_id, regexp_replace(n.number, '[^0-9]', '', 'g') AS digits
    FROM (
        SELECT source_name, stream, source_key, phone AS number FROM staging.customer WHERE phone IS NOT NULL
        UNION ALL
        SELECT source_name, stream, source_key, mobile FROM staging.customer WHERE mobile IS NOT NULL
    ) n
    JOIN mdm.xref x ON x.source_name = n.source_name AND x.stream = n.stream AND x.source_key = n.source_key
    WHERE TRUE /* changed: x.golden_id */
    UNION ALL
    SELECT x.golden_id, regexp_replace(n.number, '[^0-9]', '', 'g')
    FROM (
        SELECT source_name, customer_stream, customer_key, phone AS number FROM staging.contact WHERE phone IS NOT NULL
        UNION ALL
        SELECT source_name, customer_stream, customer_key, mobile FROM staging.contact WHERE mobile IS NOT NULL
    ) n
    JOIN mdm.xref x
        ON x.source_name = n.source_name AND x.stream = n.customer_stream AND x.source_key = n.customer_key
    WHERE TRUE /* changed: x.golden_id */
)
SELECT DISTINCT golden_id, RIGHT(digits, 11) AS phone
FROM numbers
WHERE LENGTH(digits) >= 7
