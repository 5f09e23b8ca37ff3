//! A problem in a document source, at its file and line.

use std::path::{Path, PathBuf};

use crate::read::ReadError;

/// What is wrong with a document, and where.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// `<file>:<line>: <what is wrong and what to write instead>`.
    #[error("{}:{line}: {message}", file.display())]
    At {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{} is missing: every patch carries its bulletin, checklist and test book in docs/; start from the one in patch-template/docs/", file.display())]
    Missing { file: PathBuf },
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl DocError {
    pub fn at(file: &Path, line: usize, message: impl Into<String>) -> DocError {
        DocError::At {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// The file at fault.
    pub fn file(&self) -> &Path {
        match self {
            DocError::At { file, .. } | DocError::Missing { file } => file,
            DocError::Read(e) => e.path(),
        }
    }

    /// The 1-based line at fault, if the problem has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DocError::At { line, .. } => Some(*line),
            _ => None,
        }
    }
}
