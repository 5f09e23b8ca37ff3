//! A small bounded worker pool over a slice: the one way Bascule runs per-database work.
//!
//! Workers pull the next index from a shared counter, so slow databases do not hold up a
//! pre-assigned chunk. Threads are scoped: no `'static` bounds, no leaked workers.

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
