//! Test support shared by the integration tests: fakes of the outside world.
pub mod fake_vault;
