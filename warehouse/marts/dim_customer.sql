-- One row per golden customer: the survived attributes, its parent in the customer hierarchy, when and where
-- it is known. first_seen / last_seen also count its orders.
--
-- The `changed:` comments after TRUE: where a refresh narrows the inputs to the changed golden customers
-- (pipelines/mart_refresh.py); TRUE in a whole build.
WITH systems AS (  -- distinct first: an aggregate's DISTINCT ... ORDER BY sorts every row of mdm.xref
    SELECT golden_id, string_agg(source_name, ', ' ORDER BY source_name) AS systems
    FROM (SELECT DISTINCT golden_id, source_name FROM mdm.xref WHERE TRUE /* changed: golden_id */) x
    GROUP BY golden_id
),
orders AS (
    SELECT x.golden_id, MIN(o.order_date) AS first_order, MAX(o.order_date) AS last_order
    FROM staging.sales_order o
    JOIN mdm.xref x
        ON x.source_name = o.source_name AND x.stream = o.customer_stream AND x.source_key = o.customer_key
    WHERE TRUE /* changed: x.golden_id */
    GROUP BY x.golden_id
)
SELECT
    g.golden_id,
    g.name,
    g.short_name,
    g.uscc,
    g.uscc_valid,
    g.phone,
    g.email,
    g.address,
    g.province,
    g.city,
    g.contact_name,
    g.industry,
    g.customer_number,
    g.is_branch,
    h.parent_golden_id,
    p.name AS parent_name,
    h.relation AS parent_relation,
    g.source_count,
    g.system_count,
    s.systems,
    COALESCE(LEAST(g.first_seen, CAST(o.first_order AS TIMESTAMP)), g.first_seen, CAST(o.first_order AS TIMESTAMP))
        AS first_seen,
    COALESCE(GREATEST(g.last_seen, CAST(o.last_order AS TIMESTAMP)), g.last_seen, CAST(o.last_order AS TIMESTAMP))
        AS last_seen,
    g.updated_at
FROM mdm.golden_customer g
LEFT JOIN mdm.customer_hierarchy h ON h.child_golden_id = g.golden_id
LEFT JOIN mdm.golden_customer p ON p.golden_id = h.parent_golden_id
LEFT JOIN systems s ON s.golden_id = g.golden_id
LEFT JOIN orders o ON o.golden_id = g.golden_id
WHERE TRUE /* changed: g.golden_id */
