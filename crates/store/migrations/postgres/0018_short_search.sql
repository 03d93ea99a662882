-- Inbox search of one or two characters (`Le`, `退款`), too short for the pg_trgm indexes of
-- migration 11 (a pattern without a whole trigram makes the GIN index read every entry): every
-- character and every pair of adjacent characters of the lower-cased text, pairs with white space
-- left out, indexed by GIN. `lower` is the one ILIKE folds with, so `grams @> ARRAY[lower(q)]`
-- finds exactly the rows `ILIKE '%q%'` finds, for any q of one or two characters. PL/pgSQL: the
-- same function as one SQL query (generate_subscripts, array_agg) cost 25 times as much per row,
-- which every message insert pays.
CREATE FUNCTION sb_short_grams(t text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    chars text[] := pg_catalog.string_to_array(pg_catalog.regexp_replace(pg_catalog.lower(t), '\s', ' ', 'g'), NULL);
    grams text[] := '{}';
    prev text := ' ';
    ch text;
BEGIN
    FOREACH ch IN ARRAY coalesce(chars, '{}') LOOP
        IF ch <> ' ' THEN
            grams := grams || ch;
            IF prev <> ' ' THEN
                grams := grams || (prev || ch);
            END IF;
        END IF;
        prev := ch;
    END LOOP;
    RETURN grams;
END
$$;
CREATE INDEX messages_text_grams ON messages USING gin (sb_short_grams(text));
CREATE INDEX contacts_name_grams ON contacts USING gin (sb_short_grams(name));
