-- Cross-sell: for each golden customer, its related customers and what they buy that it does not. Related: its
-- parent company, its branches and the other branches of its parent (mdm hierarchy, dim_customer), and customers
-- sharing a phone or mobile number with it in any system (marts.golden_phone: customer or contact records, the last
-- 11 digits of numbers of at least 7 digits), numbers shared by at most 5 golden customers (a switchboard shared by
-- dozens says nothing). What they buy: the products of their revenue orders (fct_sales_orders.product, where the
-- source says).
--
-- The `changed:` comments after TRUE: where a refresh narrows the related pairs to those of the changed golden
-- customers, on either side (pipelines/mart_refresh.py; the numbers that began or stopped telling add their
-- customers to the changed ones: pipelines/mart_states.py); in a whole build they are TRUE.
WITH telling AS (
    SELECT phone FROM marts.golden_phone GROUP BY phone HAVING COUNT(*) BETWEEN 2 AND 5
),
told AS (  -- the customers of those numbers: both ends of every shared-phone pair
    SELECT golden_id, phone FROM marts.golden_phone WHERE phone IN (SELECT phone FROM telling)
),
pairs AS (
    SELECT golden_id, parent_golden_id AS related_id, 'parent company' AS relation
    FROM marts.dim_customer WHERE parent_golden_id IS NOT NULL
    UNION ALL
    SELECT parent_golden_id, golden_id, 'branch'
    FROM marts.dim_customer WHERE parent_golden_id IS NOT NULL
    UNION ALL
    SELECT a.golden_id, b.golden_id, 'same group'
    FROM marts.dim_customer a
    JOIN marts.dim_customer b ON b.parent_golden_id = a.parent_golden_id AND b.golden_id <> a.golden_id
    UNION ALL
    SELECT a.golden_id, b.golden_id, 'shared phone'
    FROM told a
    JOIN told b ON b.phone = a.phone AND b.golden_id <> a.golden_id
),
related AS (
    SELECT golden_id, related_id, string_agg(DISTINCT relation, ', ' ORDER BY relation) AS relations
    FROM pairs
    WHERE TRUE /* changed: golden_id */ OR TRUE /* changed: related_id */
    GROUP BY golden_id, related_id
),
bought AS (
    SELECT golden_id, TRIM(product) AS product, SUM(reporting_amount) AS amount
    FROM marts.fct_sales_orders
    WHERE is_revenue AND golden_id IS NOT NULL AND NULLIF(TRIM(product), '') IS NOT NULL
    GROUP BY golden_id, TRIM(product)
),
offer AS (
    SELECT r.golden_id, r.related_id, b.product, b.amount
    FROM related r
    JOIN bought b ON b.golden_id = r.related_id
    WHERE NOT EXISTS (SELECT 1 FROM bought m WHERE m.golden_id = r.golden_id AND m.product = b.product)
),
offered AS (
    SELECT golden_id, related_id, COUNT(*) AS products_to_offer,
           string_agg(product, ', ' ORDER BY amount DESC, product) AS product_names, SUM(amount) AS related_revenue
    FROM offer
    GROUP BY golden_id, related_id
)
SELECT
    r.golden_id,
    d.name,
    r.related_id AS related_golden_id,
    rd.name AS related_name,
    r.relations,
    (SELECT COUNT(*) FROM bought b WHERE b.golden_id = r.related_id) AS related_products,
    COALESCE(o.products_to_offer, 0) AS products_to_offer,
    o.product_names,
    o.related_revenue
FROM related r
JOIN marts.dim_customer d ON d.golden_id = r.golden_id
JOIN marts.dim_customer rd ON rd.golden_id = r.related_id
LEFT JOIN offered o ON o.golden_id = r.golden_id AND o.related_id = r.related_id
