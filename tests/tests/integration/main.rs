//! Integration and end-to-end tests against the moto server, through the ordinary SDK
//! clients. One test binary (link time on a 2-core machine), one module per area.

mod adapters;
mod adversarial_import;
mod adversarial_webhook;
mod chaos;
mod dlq;
mod erp_outage;
mod feedback;
mod import;
mod intake;
mod local_stack;
mod opentrans;
mod orders;
mod pull;
mod reconcile;
mod shop;
mod shop_api;
mod shop_orders;
mod support;
mod sync;
mod template;
