-- PostgreSQL peer of stockd for bench/inventory/run.sh (recreated before every run).
-- One row per SKU; the CHECK is a second line of defence: the UPDATE's `available >= $1` guard is
-- what refuses overselling without an error.
DROP TABLE IF EXISTS reservations;
DROP TABLE IF EXISTS stock;
CREATE TABLE stock (
  sku       text PRIMARY KEY,
  available bigint NOT NULL CHECK (available >= 0)
);
-- One item per reservation (the benchmark's reservations are single-SKU). Multi-SKU would add a
-- reservation_items table and UPDATE the SKUs in sorted order to avoid deadlocks.
CREATE TABLE reservations (
  reservation_id text PRIMARY KEY,  -- idempotency key
  sku            text NOT NULL,
  qty            bigint NOT NULL CHECK (qty > 0),
  user_id        text,
  state          text NOT NULL DEFAULT 'PENDING',
  expires_at     timestamptz NOT NULL
);
CREATE INDEX reservations_expiry ON reservations (expires_at) WHERE state = 'PENDING';
