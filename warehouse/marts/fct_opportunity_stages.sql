-- The stages each opportunity went through, in time order: the sources' stage-change logs (staging.opportunity_stage,
-- joined to the opportunity by source and key), then the stage the opportunity is in now when its log does not end
-- with it (entered when it closed, else on its stage_changed_at, else at its last change: never earlier than the last
-- logged change), then `(not recorded)` from its creation when the first stage known began later. A stage is never
-- assumed for a time no record speaks of: the predictions read an opportunity's stage on a past date from here.
WITH opportunity AS (
    SELECT source_name, stream, opportunity_key, stage, outcome, created_at, closed_at, stage_changed_at,
           probability, updated_at
    FROM marts.fct_opportunities
),
logged AS (
    SELECT o.source_name, o.stream, o.opportunity_key, s.stage, s.entered_at,
           CAST(s.probability AS DECIMAL(9, 4)) AS probability, 'log' AS origin
    FROM staging.opportunity_stage s
    JOIN opportunity o ON o.source_name = s.source_name AND o.opportunity_key = s.opportunity_key
),
last_logged AS (
    SELECT source_name, stream, opportunity_key, stage, entered_at,
           ROW_NUMBER() OVER (PARTITION BY source_name, stream, opportunity_key ORDER BY entered_at DESC, stage) AS rn
    FROM logged
),
now_stage AS (
    SELECT o.source_name, o.stream, o.opportunity_key, o.stage,
           CASE
               WHEN o.outcome <> 'open' AND o.closed_at IS NOT NULL THEN o.closed_at
               WHEN l.entered_at IS NULL THEN COALESCE(o.stage_changed_at, o.created_at)
               ELSE GREATEST(COALESCE(o.stage_changed_at, o.updated_at, l.entered_at), l.entered_at)
           END AS entered_at,
           o.probability, 'opportunity' AS origin
    FROM opportunity o
    LEFT JOIN last_logged l
        ON l.source_name = o.source_name AND l.stream = o.stream AND l.opportunity_key = o.opportunity_key
       AND l.rn = 1
    WHERE NULLIF(TRIM(o.stage), '') IS NOT NULL AND (l.stage IS NULL OR l.stage <> o.stage)
),
known AS (
    SELECT * FROM logged
    UNION ALL
    SELECT * FROM now_stage
),
unrecorded AS (  -- the time between its creation and the first stage known
    SELECT o.source_name, o.stream, o.opportunity_key, '(not recorded)' AS stage, o.created_at AS entered_at,
           CAST(NULL AS DECIMAL(9, 4)) AS probability, 'created' AS origin
    FROM opportunity o
    WHERE NOT EXISTS (
        SELECT 1 FROM known k
        WHERE k.source_name = o.source_name AND k.stream = o.stream AND k.opportunity_key = o.opportunity_key
          AND k.entered_at <= o.created_at
    )
),
entry AS (
    SELECT * FROM known
    UNION ALL
    SELECT * FROM unrecorded
),
numbered AS (
    SELECT
        e.*,
        ROW_NUMBER() OVER w AS stage_number,
        LEAD(e.entered_at) OVER w AS left_at
    FROM entry e
    WINDOW w AS (PARTITION BY e.source_name, e.stream, e.opportunity_key
                 ORDER BY e.entered_at, CASE e.origin WHEN 'created' THEN 0 WHEN 'log' THEN 1 ELSE 2 END, e.stage)
)
SELECT
    n.source_name,
    n.stream,
    n.opportunity_key,
    n.stage_number,
    n.stage,
    n.entered_at,
    n.left_at,
    GREATEST(CAST(COALESCE(n.left_at, o.updated_at, n.entered_at) AS DATE) - CAST(n.entered_at AS DATE), 0)
        AS days_in_stage,
    n.probability,
    n.left_at IS NULL AS is_current,
    n.origin
FROM numbered n
JOIN opportunity o
    ON o.source_name = n.source_name AND o.stream = n.stream AND o.opportunity_key = n.opportunity_key
