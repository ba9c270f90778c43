//! End-to-end tests: collectors and agents in this process, talking over real TCP sockets on
//! 127.0.0.1 with real TLS and real SQLite files in temporary directories.

mod access;
mod agent_disk;
mod api;
mod browser;
mod channels;
mod checks;
mod clock;
mod delivery;
mod enrollment;
mod fix_loop;
mod fix_network;
mod fixes;
mod fleet;
mod guard;
mod hardening;
mod help;
mod help_agent;
mod help_browser;
mod hostage;
mod isolation;
mod metrics;
mod notify;
mod people;
mod postgres;
mod recovery;
mod report;
mod report_grouping;
mod search;
mod servers;
mod service;
mod support;
mod telemetry;
mod tickets;
mod words;
mod workspace;
