//! The cloud instance-type shorthand of a create (`instanceParseType`, 6.0.4
//! `cmd/incusd/instance_instance_types.go`): limits merged into the request's config before
//! anything else, so the scriptlet sees them.
//!
//! Incus downloads a table of named cloud types (`t2.micro`, `aws:t2.micro`, …) at start-up
//! unless `INCUS_SKIP_INSTANCE_TYPES=1`; a snapshot does not carry that table, so named types
//! answer as a cluster without it (the test bed): "Provided instance type doesn't exist". The
//! custom form `cN-mM` (N CPUs, M GiB, either part optional) needs no table.

use crate::model::Config;

/// The config keys `value` stands for.
pub(super) fn parse_instance_type(value: &str) -> Result<Config, String> {
    let missing = || format!("Provided instance type doesn't exist: {value}");
    // `source:name` names a table entry, which Berth does not have.
    if value.contains(':') || value.is_empty() {
        return Err(missing());
    }
    let (mut cpu, mut memory) = (0f32, 0f32);
    for field in value.split('-') {
        let (kind, number) = match field.as_bytes() {
            [kind @ (b'c' | b'm'), _, ..] => (*kind, &field[1..]),
            _ => return Err(missing()),
        };
        // Go parses with `ParseFloat(…, 32)`: a float32.
        let number: f32 = number
            .parse::<f64>()
            .map_err(|_| format!("Bad custom instance type: {value}"))? as f32;
        if kind == b'c' {
            cpu = number;
        } else {
            memory = number;
        }
    }
    let mut config = Config::new();
    if cpu > 0.0 {
        let mut cores = cpu as i64;
        if (cores as f32) < cpu {
            cores += 1;
        }
        let time = (cpu / cores as f32 * 100.0) as i64;
        config.insert("limits.cpu".into(), cores.to_string());
        if time < 100 {
            config.insert("limits.cpu.allowance".into(), format!("{time}%"));
        }
    }
    if memory > 0.0 {
        config.insert("limits.memory".into(), format!("{}MiB", (memory * 1024.0) as i64));
    }
    Ok(config)
}

/// Incus fills a key from the instance type only where the request leaves it empty.
pub(super) fn merge_instance_type(config: &mut Config, limits: Config) {
    for (key, value) in limits {
        let slot = config.entry(key).or_default();
        if slot.is_empty() {
            *slot = value;
        }
    }
}
