-- Quickstart: synthetic orders -> a Delta Lake table under ./data/orders_delta,
-- partitioned by customer, one Delta commit per checkpoint, exactly once.
CREATE SOURCE orders (
  order_id  BIGINT NOT NULL,
  customer  VARCHAR NOT NULL,
  amount    DECIMAL(10, 2),
  quantity  INT,
  placed_at TIMESTAMP(3) WITH TIME ZONE
) FROM DATAGEN (
  'rows-per-second' = '50000',
  'fields.order_id.kind' = 'sequence',
  'fields.order_id.start' = '1',
  'fields.customer.values' = 'alice,bob,carol,dave',
  'fields.amount.min' = '1',
  'fields.amount.max' = '500',
  'fields.quantity.min' = '1',
  'fields.quantity.max' = '9',
  'fields.quantity.null-rate' = '0.05',
  seed = '42'
);

CREATE SINK orders_delta FROM orders INTO DELTA_LAKE (
  'table.path' = './data/orders_delta',
  'partition.columns' = 'customer',
  'checkpoint.interval' = '10'
);
