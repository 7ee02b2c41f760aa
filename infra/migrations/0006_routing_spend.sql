-- 0006_routing_spend: which route, variant and deployment answered each request, why it fell back, and which prices
-- its cost was computed with. All nullable: rows written before routing existed (or by a plain-model request) have
-- no route, and a cost without a price_version predates prices as data.
alter table usage
  add column route           text,
  add column variant         text,
  add column deployment      text,
  add column fallback_reason text,
  add column price_version   text;

-- Spend per route by day or month (`chatq spend`, `chatq compare`); per tenant uses usage_tenant_model_created_at_idx.
create index usage_route_created_at_idx on usage (route, created_at) where route is not null;
