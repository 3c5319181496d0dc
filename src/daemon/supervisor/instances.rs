//! Starting, updating and stopping one instance: its sockets, router task, address worker
//! and status view.

use super::*;

impl Supervisor {
    pub(super) fn start_instance(
        &mut self,
        p: Prepared,
        router_config: RouterConfig,
        wiring: Wiring,
    ) -> Result<RouterInbox, DaemonError> {
        let Wiring {
            notifier,
            group,
            arbiter,
        } = wiring;
        let inst = p.instance.clone();
        let cell = RouterCell::new();
        let (inbox, inbox_rx) = RouterInbox::channel(256, cell.reader());
        let stats = Arc::new(stats::Stats::default());
        let vips = p.vip_addrs();
        // One copy of each name for the router's configuration (which brings it), the
        // receive routes, the router's I/O, the address worker, the status view and the
        // control server.
        let name = router_config.name.clone();
        let iface: Arc<str> = p.iface().into();
        let mut channel_stats = Vec::new();
        let (paths, attached) = self.sockets.attach(
            &sockets::Plan {
                name: &name,
                inst: &inst,
                parent: &p.parent.name,
                vmac_iface: p.vmac.as_ref().map(|v| v.name.as_str()),
                primary: p.primary,
                channels: &p.channels,
                router: cell.clone(),
                stats: stats.clone(),
                keys: &self.keys,
            },
            &mut channel_stats,
        )?;

        // One list for the kept configuration, the address worker, the settings and the
        // status view; a reload replaces all four.
        let vip_list = inst.vips.clone();
        let announcer = Announcer::new(p.ifindex)?;
        crate::net::announce::check_sources(&vips, p.src_ll())?;
        let vip_ops = vips::queue(
            vips::Target {
                name: name.clone(),
                ifindex: p.ifindex,
                iface: iface.clone(),
                mac: p.mac,
                src_ll: p.src_ll(),
                burst: inst.garp().initial,
            },
            crate::net::announce::Pacing {
                arp: inst.garp().arp_interval,
                na: inst.garp().na_interval,
            },
            self.nl.clone(),
            vip_list.clone(),
            announcer,
        );
        let router_config = Arc::new(router_config);
        let view_tx = Latest::new(server::View::initial(
            router_config.clone(),
            iface,
            vip_list.clone(),
        ));
        let view_rx = view_tx.reader();
        let settings_tx = SettingsSource::new(Settings {
            vips: vip_list,
            notifier,
            group,
            paths: paths.clone(),
            isolation: self.isolation.get(&*p.name).cloned(),
            arbiter: arbiter.as_ref().map(|(link, _)| link.clone()),
            fence: self.fences.get(&*p.name).cloned(),
            scripts: self.scripts.clone(),
        });
        if let Some((link, _)) = &arbiter {
            let _ = link.send(ArbiterMsg::Join {
                member: p.name.to_string(),
                inbox: inbox.clone(),
            });
        }
        let group_for_io = settings_tx.reader();
        let sending = Sending::new(paths.clone());
        let io = LiveIo {
            name: name.clone(),
            sending,
            limiter: LazyLogLimiter::default(),
            inbox: inbox.clone(),
            vip_ops: vip_ops.clone(),
            stats: stats.clone(),
            view: view_tx,
            events: self.events.clone(),
            view_stale: false,
            settings_looked: io::settings_replaced(),
            settings: group_for_io,
            seen: None,
        };
        let router = Router::new(router_config.clone());
        driver::drive(
            &cell,
            router,
            inbox_rx,
            io,
            Wakeup::precise(self.timer.as_ref()),
        );
        write(&self.watchers)
            .entry(p.parent.index)
            .or_default()
            .push((name.clone(), inbox.clone()));
        if !p.parent.usable() {
            warn!(instance = %p.name, interface = %p.parent.name, "interface is down: starting in FAULT");
            let fault = Input::Fault {
                source: links::fault_source(&p.parent.name),
                active: true,
            };
            // The inbox is new and empty: this cannot be full.
            let _ = inbox.try_send(fault);
        }
        let control = Arc::new(server::Instance {
            name,
            view: view_rx,
            stats: stats.clone(),
            channels: channel_list(&paths),
            inbox: inbox.clone(),
            trackers: self.board.clone(),
            notify: self
                .notify_counters
                .entry(p.name.clone())
                .or_default()
                .clone(),
            arbiter: arbiter.map(|(_, board)| board),
        });
        self.live.insert(
            p.name.clone(),
            Box::new(Live {
                prepared: p,
                cell,
                vip_ops,
                settings: settings_tx,
                control,
                attached: attached.into_boxed_slice(),
                paths,
                channel_stats,
                router_config,
            }),
        );
        Ok(inbox)
    }

    /// Applies live-changeable settings; returns whether anything changed. Channels and
    /// unicast peers change live too: the router keeps its state while its adverts move to
    /// the new paths, which is how a pair migrates from multicast to unicast without a flap.
    pub(super) async fn update_instance(
        &mut self,
        config: &Config,
        name: &str,
        old: &Instance,
        new: &Instance,
        wiring: Wiring,
    ) -> Result<bool, DaemonError> {
        let Wiring {
            notifier,
            group,
            arbiter,
        } = wiring;
        let primary = self.live.get(name).map(|l| l.prepared.primary);
        let resolved = match primary {
            Some(primary) if old.channels != new.channels => {
                Some(instance::resolve_channels(&self.nl, name, new, primary).await?)
            }
            _ => None,
        };
        // An IPv4 instance's first IPv6 VIP needs a source for its NAs. Looked up before
        // anything changes: without one the instance keeps its old settings, as an instance
        // that starts without one does not start.
        let found_ll = match self.live.get(name) {
            Some(l) if l.prepared.extra_ll.is_none() => {
                let (index, iface) = (l.prepared.ifindex, l.prepared.iface());
                instance::extra_link_local(&self.nl, name, new, index, iface).await?
            }
            _ => None,
        };
        let Some(live) = self.live.get_mut(name) else {
            return Ok(false);
        };
        live.prepared.extra_ll = live.prepared.extra_ll.take().or(found_ll.map(Box::new));
        if let Some(channels) = resolved {
            live.prepared.channels = channels;
        }
        let keys_changed = live.paths.iter().any(|p| p.stale_key(&self.keys));
        let paths_changed =
            old.unicast != new.unicast || old.channels != new.channels || keys_changed;
        if paths_changed {
            let p = &live.prepared;
            let (paths, attached) = self.sockets.attach(
                &sockets::Plan {
                    name: &live.control.name,
                    inst: new,
                    parent: &p.parent.name,
                    vmac_iface: p.vmac.as_ref().map(|v| v.name.as_str()),
                    primary: p.primary,
                    channels: &p.channels,
                    router: live.cell.clone(),
                    stats: live.control.stats.clone(),
                    keys: &self.keys,
                },
                &mut live.channel_stats,
            )?;
            let gone: Vec<Attachment> = live
                .attached
                .iter()
                .filter(|a| !attached.contains(a))
                .cloned()
                .collect();
            self.sockets.detach(name, &gone);
            live.attached = attached.into_boxed_slice();
            live.paths = paths;
            Arc::make_mut(&mut live.control).channels = channel_list(&live.paths);
        }
        // The list in use is kept when the VIPs are the same: the address worker holds it
        // too, and a copy per reload would stay beside its copy.
        let vip_list: Arc<[crate::config::Vip]> = if old.vips == new.vips {
            live.settings.borrow().vips.clone()
        } else {
            let list = new.vips.clone();
            live.vip_ops.push(VipOp::Set {
                vips: list.clone(),
                src_ll: live.prepared.src_ll(),
            });
            list
        };
        live.settings.replace(Settings {
            vips: vip_list.clone(),
            notifier,
            group,
            paths: live.paths.clone(),
            isolation: self.isolation.get(name).cloned(),
            arbiter: arbiter.as_ref().map(|(link, _)| link.clone()),
            fence: self.fences.get(name).cloned(),
            scripts: self.scripts.clone(),
        });
        if let Some((link, _)) = &arbiter {
            let _ = link.send(ArbiterMsg::Join {
                member: name.to_owned(),
                inbox: live.control.inbox.clone(),
            });
        }
        Arc::make_mut(&mut live.control).arbiter = arbiter.map(|(_, board)| board);
        live.prepared.instance = Instance {
            // The list in use, not the file's equal copy.
            vips: vip_list.clone(),
            ..new.clone()
        };
        // Always: trackers and groups live elsewhere in the file, and the router weighs and
        // asks them by its own configuration. Waited for, never dropped: a full inbox drains
        // in an advert interval, and a router without its new settings would advertise the
        // old ones.
        let rc = router_config(config, &live.prepared, live.router_config.name.clone());
        // Trackers and groups are not in the instance's own section: compare what the
        // router is told, not only the section, to say whether anything changed.
        let router_changed = rc != *live.router_config;
        let rc = Arc::new(rc);
        live.router_config = rc.clone();
        let _ = live.control.inbox.send(Input::Configure(rc)).await;
        if old == new && !keys_changed && !router_changed {
            return Ok(false);
        }
        info!(instance = name, "settings updated in place");
        Ok(true)
    }

    pub(super) async fn stop_instance(&mut self, name: &str) {
        let Some(live) = self.live.remove(name).map(|l| *l) else {
            return;
        };
        let _ = live.control.inbox.send(Input::Stop).await;
        if let Some(link) = &live.settings.borrow().arbiter {
            let _ = link.send(ArbiterMsg::Leave {
                member: name.to_owned(),
            });
        }
        let finish = async {
            live.control.inbox.closed().await;
            if live.cell.take_ended().is_none() {
                error!(
                    instance = name,
                    "the router's task failed before it stopped"
                );
            }
            // Closed only now: the router's last operations (removing the VIPs at Stop) are
            // queued by then, and run before the worker ends.
            live.vip_ops.close();
            live.vip_ops.finished().await;
        };
        if tokio::time::timeout(STOP_BUDGET, finish).await.is_err() {
            error!(instance = name, "stop took longer than {STOP_BUDGET:?}");
        }
        self.sockets.detach(name, &live.attached);
        for list in write(&self.watchers).values_mut() {
            list.retain(|(n, _)| **n != *name);
        }
        instance::teardown(&self.nl, &live.prepared).await;
    }
}
