//! The Markdown report of `flood_bench`.

use super::super::session::header;
use super::{Attack, FloodOptions, FloodRun};

/// The whole document: how it was run, then one table per attack, one row per run.
pub fn document(opts: &FloodOptions, cmdline: &str, runs: &[FloodRun]) -> String {
    let mut doc = String::from("# Forged-advert flood: vipd vs keepalived\n\n");
    doc += &header(&opts.common, cmdline);
    doc += &format!(
        "\nnode0 (priority 150) Master, node1 (100) Backup, VRRPv3 100 ms, one VIP. The client \
         pings the VIP every 10 ms and forges for {} s: {} lower-priority adverts a second, \
         or {} resignations a second. VRRP and \
         ARP frames out are counted by source MAC by nftables in the switch over the flood; notify runs \
         from each agent's notify command; CPU of every process of the agent over the flood, in \
         % of one core; pings lost until the pair has settled again.\n",
        opts.duration.as_secs(),
        opts.rate,
        opts.resign_rate
    );
    for attack in &opts.attacks {
        doc += &format!("\n## {}\n\n", title(*attack));
        doc += "| agent | run | forged | adverts out node0 / node1 | ARPs out node0 / node1 | notify runs node0 / node1 | CPU node0 / node1 (%) | pings lost |\n";
        doc += "|---|---|---|---|---|---|---|---|\n";
        let mut index = std::collections::HashMap::new();
        for r in runs.iter().filter(|r| r.attack == *attack) {
            let n = index.entry(r.defender.to_string()).or_insert(0);
            *n += 1;
            doc += &row(r, *n);
        }
    }
    doc
}

fn title(attack: Attack) -> &'static str {
    match attack {
        Attack::Lower => "Lower-priority adverts from random sources (what a Master answers)",
        Attack::Resign => {
            "Priority-0 adverts from the Master's address (what a Backup takes over on)"
        }
    }
}

fn row(r: &FloodRun, index: usize) -> String {
    if let Some(why) = &r.failure {
        return format!(
            "| {} | {index} | FAILED: {} | | | | | |\n",
            r.defender,
            why.replace('|', "/")
        );
    }
    let [a, b] = r.nodes;
    format!(
        "| {} | {index} | {} | {} / {} | {} / {} | {} / {} | {:.1} / {:.1} | {} of {} |\n",
        r.defender,
        r.forged,
        a.adverts_out,
        b.adverts_out,
        a.arps_out,
        b.arps_out,
        a.notify_runs,
        b.notify_runs,
        a.cpu_percent,
        b.cpu_percent,
        r.pings_lost,
        r.pings_sent
    )
}
