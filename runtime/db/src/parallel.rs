//! A small bounded worker pool over a slice: the one way Bascule runs per-database work.
//!
//! Workers pull the next index from a shared counter, so slow databases do not hold up a
//! pre-assigned chunk. Threads are scoped: no `'static` bounds, no leaked workers.
//!
//! [`map_grouped`] bounds the workers *per group* — per database server — rather than in total:
//! tenants spread over three shards get three times the workers, and no server sees more than
//! its share of connections. Each worker carries a state of its own (its [`crate::Session`],
//! so its connection is reused from one database to the next).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// What to do when one item fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Start no new item (forward work: the first failure decides the run).
    Stop,
    /// Finish every item (undo work: each database must get its chance).
    Continue,
}

/// Runs `f` on every item with at most `workers` threads; returns the results in item order,
/// or every error met (with the index of its item). With [`OnError::Stop`], items not started
/// when the first error happened are skipped.
pub fn map<T, R, E, F>(
    items: &[T],
    workers: usize,
    on_error: OnError,
    f: F,
) -> Result<Vec<R>, Vec<(usize, E)>>
where
    T: Sync,
    R: Send,
    E: Send,
    F: Fn(&T) -> Result<R, E> + Sync,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let errors: Mutex<Vec<(usize, E)>> = Mutex::new(Vec::new());
    let workers = workers.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if on_error == OnError::Stop && failed.load(Ordering::SeqCst) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(index) else { break };
                match f(item) {
                    Ok(value) => lock(&results)[index] = Some(value),
                    Err(error) => {
                        failed.store(true, Ordering::SeqCst);
                        lock(&errors).push((index, error));
                    }
                }
            });
        }
    });
    let mut errors = into_inner(errors);
    if !errors.is_empty() {
        errors.sort_by_key(|(index, _)| *index);
        return Err(errors);
    }
    Ok(into_inner(results).into_iter().flatten().collect())
}

/// Like [`map`], with the items split into groups by `key` (e.g. the database server), at most
/// `workers` threads per group, and a state per thread made by `init` and handed to every call of
/// `f` on that thread (a reused connection).
pub fn map_grouped<T, R, E, K, S, F>(
    items: &[T],
    key: impl Fn(&T) -> K,
    workers: usize,
    on_error: OnError,
    init: impl Fn() -> S + Sync,
    f: F,
) -> Result<Vec<R>, Vec<(usize, E)>>
where
    T: Sync,
    R: Send,
    E: Send,
    K: Ord,
    F: Fn(&mut S, &T) -> Result<R, E> + Sync,
{
    let mut groups: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for (index, item) in items.iter().enumerate() {
        groups.entry(key(item)).or_default().push(index);
    }
    let groups: Vec<(Vec<usize>, AtomicUsize)> = groups
        .into_values()
        .map(|indexes| (indexes, AtomicUsize::new(0)))
        .collect();
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let errors: Mutex<Vec<(usize, E)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for (indexes, next) in &groups {
            for _ in 0..workers.clamp(1, indexes.len().max(1)) {
                scope.spawn(|| {
                    let mut state = init();
                    loop {
                        if on_error == OnError::Stop && failed.load(Ordering::SeqCst) {
                            break;
                        }
                        let Some(&index) = indexes.get(next.fetch_add(1, Ordering::SeqCst)) else {
                            break;
                        };
                        let Some(item) = items.get(index) else { break };
                        match f(&mut state, item) {
                            Ok(value) => lock(&results)[index] = Some(value),
                            Err(error) => {
                                failed.store(true, Ordering::SeqCst);
                                lock(&errors).push((index, error));
                            }
                        }
                    }
                });
            }
        }
    });
    let mut errors = into_inner(errors);
    if !errors.is_empty() {
        errors.sort_by_key(|(index, _)| *index);
        return Err(errors);
    }
    Ok(into_inner(results).into_iter().flatten().collect())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn into_inner<T>(mutex: Mutex<T>) -> T {
    match mutex.into_inner() {
        Ok(value) => value,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_item_order() {
        let items: Vec<u32> = (0..100).collect();
        let out = map(&items, 4, OnError::Stop, |i| Ok::<_, ()>(i * 2)).unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn continue_tries_every_item_and_reports_every_error() {
        let items: Vec<u32> = (0..50).collect();
        let tried = AtomicUsize::new(0);
        let errors = map(&items, 3, OnError::Continue, |i| {
            tried.fetch_add(1, Ordering::SeqCst);
            if i % 10 == 0 {
                Err(*i)
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(tried.load(Ordering::SeqCst), 50);
        assert_eq!(
            errors.iter().map(|(_, e)| *e).collect::<Vec<_>>(),
            vec![0, 10, 20, 30, 40]
        );
    }

    #[test]
    fn grouped_workers_are_bounded_per_group_and_keep_their_state() {
        let items: Vec<u32> = (0..90).collect();
        let running: [AtomicUsize; 3] = Default::default();
        let peak: [AtomicUsize; 3] = Default::default();
        let states = AtomicUsize::new(0);
        let out = map_grouped(
            &items,
            |i| i % 3,
            2,
            OnError::Stop,
            || {
                states.fetch_add(1, Ordering::SeqCst);
                0usize
            },
            |calls, i| {
                let group = (*i % 3) as usize;
                let now = running[group].fetch_add(1, Ordering::SeqCst) + 1;
                peak[group].fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(2));
                running[group].fetch_sub(1, Ordering::SeqCst);
                *calls += 1;
                Ok::<_, ()>((*i, *calls))
            },
        )
        .unwrap();
        assert_eq!(out.iter().map(|(i, _)| *i).collect::<Vec<_>>(), items);
        assert!(
            peak.iter().all(|p| p.load(Ordering::SeqCst) <= 2),
            "{peak:?}"
        );
        assert_eq!(
            states.load(Ordering::SeqCst),
            6,
            "two workers per group, one state each"
        );
        assert!(
            out.iter().any(|(_, calls)| *calls > 1),
            "a state serves several items"
        );
    }

    #[test]
    fn stop_skips_items_after_the_first_error() {
        let items: Vec<u32> = (0..1000).collect();
        let tried = AtomicUsize::new(0);
        let errors = map(&items, 1, OnError::Stop, |i| {
            tried.fetch_add(1, Ordering::SeqCst);
            if *i == 5 {
                Err(())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(tried.load(Ordering::SeqCst), 6);
    }
}
