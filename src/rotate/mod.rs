//! Rotation: generators, policies, and two-phase rotation with `on_rotate` hooks.
pub mod generator;
pub use generator::{Generated, Generator, PublicPart};
