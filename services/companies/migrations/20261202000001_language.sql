-- The language the company is written to in: Norwegian bokmål unless it
-- asks for English.
ALTER TABLE companies ADD COLUMN language text NOT NULL DEFAULT 'nb'
    CHECK (language IN ('nb', 'en'));
