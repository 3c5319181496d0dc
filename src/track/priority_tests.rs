use super::*;

fn t(source: &str, weight: i16, health: Health) -> Tracker {
    Tracker {
        source: source.into(),
        weight,
        file: false,
        health,
    }
}

fn f(source: &str, weight: i16, health: Health) -> Tracker {
    Tracker {
        file: true,
        ..t(source, weight, health)
    }
}

fn faults(v: &Verdict) -> Vec<&str> {
    v.faults.iter().map(String::as_str).collect()
}

#[test]
fn no_trackers_keeps_the_base() {
    assert_eq!(evaluate(100, &[]).priority, 100);
    assert!(evaluate(100, &[]).faults.is_empty());
}

#[test]
fn negative_weight_applies_only_while_failed() {
    assert_eq!(evaluate(100, &[t("a", -30, Health::Failed)]).priority, 70);
    assert_eq!(evaluate(100, &[t("a", -30, Health::Ok)]).priority, 100);
}

#[test]
fn positive_weight_applies_only_while_ok() {
    assert_eq!(evaluate(100, &[t("a", 20, Health::Ok)]).priority, 120);
    assert_eq!(evaluate(100, &[t("a", 20, Health::Failed)]).priority, 100);
}

#[test]
fn weights_add_up() {
    let ts = [
        t("a", -30, Health::Failed),
        t("b", -10, Health::Failed),
        t("c", 15, Health::Ok),
        t("d", 50, Health::Failed),
        t("e", -70, Health::Ok),
    ];
    assert_eq!(evaluate(100, &ts).priority, 75);
}

#[test]
fn weighted_trackers_do_nothing_before_their_first_result() {
    let ts = [t("a", -30, Health::Init), t("b", 30, Health::Init)];
    let v = evaluate(100, &ts);
    assert_eq!(v.priority, 100);
    assert!(v.faults.is_empty());
}

#[test]
fn priority_is_clamped_to_1_and_254() {
    assert_eq!(evaluate(10, &[t("a", -253, Health::Failed)]).priority, 1);
    assert_eq!(evaluate(250, &[t("a", 253, Health::Ok)]).priority, 254);
    assert_eq!(evaluate(254, &[t("a", 1, Health::Ok)]).priority, 254);
    assert_eq!(evaluate(1, &[t("a", -1, Health::Failed)]).priority, 1);
}

#[test]
fn address_owner_is_never_adjusted() {
    assert_eq!(evaluate(255, &[t("a", -100, Health::Failed)]).priority, 255);
    assert_eq!(evaluate(255, &[t("a", 5, Health::Ok)]).priority, 255);
}

#[test]
fn address_owner_still_faults_on_weight_zero() {
    let v = evaluate(255, &[t("check a", 0, Health::Failed)]);
    assert_eq!(v.priority, 255);
    assert_eq!(faults(&v), ["check a"]);
}

#[test]
fn weight_zero_faults_while_failed_and_before_the_first_result() {
    assert_eq!(faults(&evaluate(100, &[t("a", 0, Health::Failed)])), ["a"]);
    assert_eq!(faults(&evaluate(100, &[t("a", 0, Health::Init)])), ["a"]);
    assert!(evaluate(100, &[t("a", 0, Health::Ok)]).faults.is_empty());
    // A fault does not move the priority.
    assert_eq!(evaluate(100, &[t("a", 0, Health::Failed)]).priority, 100);
}

#[test]
fn fault_ends_only_when_every_weight_zero_tracker_recovers() {
    let both = [t("a", 0, Health::Failed), t("b", 0, Health::Failed)];
    assert_eq!(faults(&evaluate(100, &both)), ["a", "b"]);
    let one = [t("a", 0, Health::Ok), t("b", 0, Health::Failed)];
    assert_eq!(faults(&evaluate(100, &one)), ["b"]);
    let none = [t("a", 0, Health::Ok), t("b", 0, Health::Ok)];
    assert!(evaluate(100, &none).faults.is_empty());
}

#[test]
fn the_same_source_twice_stays_active_while_either_fails() {
    let ts = [t("a", 0, Health::Ok), t("a", 0, Health::Failed)];
    assert_eq!(faults(&evaluate(100, &ts)), ["a"]);
}

#[test]
fn file_weight_zero_faults_on_any_nonzero_value() {
    assert!(
        evaluate(100, &[f("x", 0, Health::Value(0))])
            .faults
            .is_empty()
    );
    assert_eq!(
        faults(&evaluate(100, &[f("x", 0, Health::Value(1))])),
        ["x"]
    );
    assert_eq!(
        faults(&evaluate(100, &[f("x", 0, Health::Value(-4))])),
        ["x"]
    );
    assert_eq!(evaluate(100, &[f("x", 0, Health::Value(7))]).priority, 100);
}

#[test]
fn file_value_is_multiplied_by_the_weight() {
    assert_eq!(evaluate(100, &[f("x", 10, Health::Value(3))]).priority, 130);
    assert_eq!(evaluate(100, &[f("x", 10, Health::Value(-3))]).priority, 70);
    assert_eq!(evaluate(100, &[f("x", -5, Health::Value(4))]).priority, 80);
    assert_eq!(evaluate(100, &[f("x", -5, Health::Value(0))]).priority, 100);
}

#[test]
fn file_result_below_minus_253_is_a_fault() {
    let v = evaluate(100, &[f("x", -1, Health::Value(254))]);
    assert_eq!(faults(&v), ["x"]);
    assert_eq!(v.priority, 100, "a faulted file adds nothing");
    let v = evaluate(100, &[f("x", -1, Health::Value(253))]);
    assert!(v.faults.is_empty());
    assert_eq!(v.priority, 1);
}

#[test]
fn file_huge_values_saturate_instead_of_overflowing() {
    let v = evaluate(100, &[f("x", 253, Health::Value(i64::MAX))]);
    assert_eq!(v.priority, 254);
    let v = evaluate(100, &[f("x", 253, Health::Value(i64::MIN))]);
    assert_eq!(faults(&v), ["x"]);
}

#[test]
fn unreadable_file_is_a_fault_whatever_the_weight() {
    assert_eq!(
        faults(&evaluate(100, &[f("x", -20, Health::Failed)])),
        ["x"]
    );
    assert_eq!(faults(&evaluate(100, &[f("x", 0, Health::Failed)])), ["x"]);
}

#[test]
fn first_result_decides_at_once() {
    let mut h = Hysteresis::new(3, 3);
    assert_eq!(h.health(), Health::Init);
    assert_eq!(h.record(true), Some(Health::Ok));
    let mut h = Hysteresis::new(3, 3);
    assert_eq!(h.record(false), Some(Health::Failed));
}

#[test]
fn fall_failures_in_a_row_take_a_healthy_check_down() {
    let mut h = Hysteresis::new(2, 3);
    h.record(true);
    assert_eq!(h.record(false), None);
    assert_eq!(h.record(false), None);
    assert_eq!(h.record(false), Some(Health::Failed));
}

#[test]
fn rise_successes_in_a_row_bring_a_failed_check_back() {
    let mut h = Hysteresis::new(2, 3);
    h.record(false);
    assert_eq!(h.record(true), None);
    assert_eq!(h.record(true), Some(Health::Ok));
}

#[test]
fn a_result_the_other_way_restarts_the_count() {
    let mut h = Hysteresis::new(3, 2);
    h.record(true);
    assert_eq!(h.record(false), None);
    assert_eq!(h.record(true), None);
    assert_eq!(h.record(false), None);
    assert_eq!(h.record(false), Some(Health::Failed));
    assert_eq!(h.record(true), None);
    assert_eq!(h.record(true), None);
    assert_eq!(h.record(false), None);
    assert_eq!(h.record(true), None);
    assert_eq!(h.record(true), None);
    assert_eq!(h.record(true), Some(Health::Ok));
}

#[test]
fn repeated_results_in_the_current_direction_change_nothing() {
    let mut h = Hysteresis::new(1, 1);
    assert_eq!(h.record(true), Some(Health::Ok));
    for _ in 0..5 {
        assert_eq!(h.record(true), None);
    }
    assert_eq!(h.record(false), Some(Health::Failed));
    for _ in 0..5 {
        assert_eq!(h.record(false), None);
    }
}

#[test]
fn zero_rise_and_fall_behave_as_one() {
    let mut h = Hysteresis::new(0, 0);
    h.record(true);
    assert_eq!(h.record(false), Some(Health::Failed));
    assert_eq!(h.record(true), Some(Health::Ok));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn health() -> impl Strategy<Value = Health> {
        prop_oneof![
            Just(Health::Init),
            Just(Health::Ok),
            Just(Health::Failed),
            any::<i64>().prop_map(Health::Value),
        ]
    }

    proptest! {
        #[test]
        fn priority_stays_in_range(
            base in 1u8..=255,
            ts in proptest::collection::vec((-253i16..=253, health(), any::<bool>()), 0..8),
        ) {
            let ts: Vec<Tracker> = ts
                .into_iter()
                .enumerate()
                .map(|(i, (weight, health, file))| Tracker {
                    source: format!("s{i}"),
                    weight,
                    file,
                    health,
                })
                .collect();
            let v = evaluate(base, &ts);
            if base == 255 {
                prop_assert_eq!(v.priority, 255);
            } else {
                prop_assert!((1..=254).contains(&v.priority));
            }
        }

        #[test]
        fn hysteresis_needs_fall_failures_after_a_success(
            rise in 1u32..6, fall in 1u32..6, results in proptest::collection::vec(any::<bool>(), 0..40),
        ) {
            // Model: a healthy check fails only after `fall` failures in a row.
            let mut h = Hysteresis::new(rise, fall);
            let mut run_ok = 0u32;
            let mut run_fail = 0u32;
            for (i, ok) in results.into_iter().enumerate() {
                let before = h.health();
                h.record(ok);
                if ok { run_ok += 1; run_fail = 0; } else { run_fail += 1; run_ok = 0; }
                let after = h.health();
                match (i, before, after) {
                    (0, _, a) => prop_assert_eq!(a, if ok { Health::Ok } else { Health::Failed }),
                    (_, Health::Ok, Health::Failed) => prop_assert_eq!(run_fail, fall),
                    (_, Health::Failed, Health::Ok) => prop_assert_eq!(run_ok, rise),
                    _ => {}
                }
            }
        }
    }
}
