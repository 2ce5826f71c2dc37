//! The lab: network namespaces that play a Docker host, its containers and an external client.
pub mod bin_path;
