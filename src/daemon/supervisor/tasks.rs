//! The tasks around the instances: notify queues, sync groups and trackers, respawned on
//! every apply.

use super::*;

impl Supervisor {
    pub(super) fn notifiers(
        &mut self,
        config: &Config,
        run_as: Option<RunAs>,
    ) -> Result<HashMap<String, Notifier>, DaemonError> {
        let wanted = config.global.event_log.clone();
        if self.event_log.as_ref().map(|(p, _)| p) != wanted.as_ref() {
            self.event_log = match wanted {
                Some(path) => {
                    let stream = EventStream::open(path.clone()).map_err(|e| {
                        DaemonError::Control(format!("event log {}", path.display()), e)
                    })?;
                    Some((path, stream))
                }
                None => None,
            };
        }
        let _scripts = self.scripts.enter();
        let mut out = HashMap::new();
        for (name, inst) in &config.instances {
            let commands = Commands::from_config(&inst.notify, run_as)
                .map_err(|e| DaemonError::Scripts(format!("instance {name}: notify: {e}")))?;
            let vips = inst.vips.iter().map(|v| v.addr.to_string()).collect();
            let events = self.event_log.as_ref().map(|(_, s)| s.clone());
            let counters = self
                .notify_counters
                .entry(name.clone())
                .or_default()
                .clone();
            let notifier = self.keep_queue(name.clone(), |old| match old {
                Some(old) => old.renewed(vips, commands, events),
                None => Notifier::spawn_counted(
                    Subject::Instance,
                    name,
                    vips,
                    commands,
                    events,
                    counters,
                ),
            });
            out.insert(name.clone(), notifier);
        }
        self.notify_tasks.retain(|t| !t.is_finished());
        Ok(out)
    }

    /// A notifier per sync group: its commands, if configured, and the event log.
    pub(super) fn group_notifiers(
        &mut self,
        config: &Config,
        run_as: Option<RunAs>,
    ) -> Result<HashMap<String, Notifier>, DaemonError> {
        let _scripts = self.scripts.enter();
        let mut out = HashMap::new();
        for name in config.groups.keys() {
            let notify = config.group_notify.get(name).cloned().unwrap_or_default();
            let commands = Commands::from_config(&notify, run_as)
                .map_err(|e| DaemonError::Scripts(format!("group {name}: notify: {e}")))?;
            let events = self.event_log.as_ref().map(|(_, s)| s.clone());
            let key = format!("group {name}");
            let counters = self.notify_counters.entry(key.clone()).or_default().clone();
            let n = self.keep_queue(key, |old| match old {
                Some(old) => old.renewed(vec![], commands, events),
                None => Notifier::spawn_counted(
                    Subject::Group,
                    name,
                    vec![],
                    commands,
                    events,
                    counters,
                ),
            });
            out.insert(name.clone(), n);
        }
        Ok(out)
    }

    /// One notify queue per instance (or group) for the daemon's life: a reload renews its
    /// commands instead of starting a second queue beside the first, so notifications keep
    /// their order and never run side by side.
    fn keep_queue(
        &mut self,
        key: String,
        make: impl FnOnce(Option<&Notifier>) -> (Notifier, Option<tokio::task::JoinHandle<()>>),
    ) -> Notifier {
        let (n, task) = make(self.queues.get(&key));
        self.notify_tasks.extend(task);
        self.queues.insert(key, n.clone());
        n
    }

    /// Forgets the queue of an instance that stopped for good; its task ends once it has
    /// run what is queued.
    pub(super) fn forget_queue(&mut self, name: &str) {
        self.queues.remove(name);
    }

    pub(super) fn respawn_groups(
        &mut self,
        tasks: Vec<(SyncGroup, mpsc::UnboundedReceiver<GroupEvent>)>,
        mut notifiers: HashMap<String, Notifier>,
    ) {
        for t in self.groups.drain(..) {
            t.abort();
        }
        for (mut group, rx) in tasks {
            let members = group
                .members
                .iter()
                .filter_map(|m| Some((m.clone(), self.live.get(m)?.inbox.clone())))
                .collect();
            // Where each running member stands, so the rebuilt group neither forgets it nor
            // notifies a group change that did not happen.
            for (name, live) in &self.live {
                group.seed(name, live.control.view.borrow().state);
            }
            let notifier = notifiers.remove(&group.name);
            self.groups
                .push(tokio::spawn(groups::run(group, members, rx, notifier)));
        }
    }

    /// Restarts the tracker tasks for a new plan. Every check reports its first result
    /// afresh; the routers weigh health by their own (reloaded) configuration, so nothing
    /// here needs to know what a router was told before.
    pub(super) fn respawn_trackers(&mut self, plan: track::Plan) {
        for t in self.trackers.drain(..) {
            t.abort();
        }
        let inboxes: HashMap<String, mpsc::Sender<Input>> = self
            .live
            .iter()
            .map(|(n, l)| (n.clone(), l.inbox.clone()))
            .collect();
        let _scripts = self.scripts.enter();
        self.trackers = plan.spawn(&inboxes, &self.board);
    }
}
