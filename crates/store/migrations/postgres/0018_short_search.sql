-- Inbox search of one or two characters (`Le`, `退款`), too short for the pg_trgm indexes of
-- migration 11 (a pattern without a whole trigram makes the GIN index read every entry): every
-- character and every pair of adjacent characters of the lower-cased text, pairs with white space
-- left out, indexed by GIN. `lower` is the one ILIKE folds with, so `grams @> ARRAY[lower(q)]`
-- finds exactly the rows `ILIKE '%q%'` finds, for any q of one or two characters.
CREATE FUNCTION sb_short_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(pg_catalog.array_agg(DISTINCT g), '{}')
    FROM (SELECT pg_catalog.regexp_split_to_array(pg_catalog.lower(t), '') AS c) s
    CROSS JOIN LATERAL pg_catalog.generate_subscripts(s.c, 1) AS i
    CROSS JOIN LATERAL (VALUES (s.c[i]), (s.c[i] || s.c[i + 1])) AS v(g)
    WHERE g IS NOT NULL AND g <> '' AND g !~ '\s'
$$;
CREATE INDEX messages_text_grams ON messages USING gin (sb_short_grams(text));
CREATE INDEX contacts_name_grams ON contacts USING gin (sb_short_grams(name));
