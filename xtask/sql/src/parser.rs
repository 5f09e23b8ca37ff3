//! Which sqlparser dialect reads the statements of a database class.

use bascule_patch::Dialect;
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};

/// The sqlparser dialect for a database class's dialect.
pub fn parser_dialect(dialect: Dialect) -> &'static dyn sqlparser::dialect::Dialect {
    static SQLITE: SQLiteDialect = SQLiteDialect {};
    static MYSQL: MySqlDialect = MySqlDialect {};
    static POSTGRES: PostgreSqlDialect = PostgreSqlDialect {};
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Mysql => &MYSQL,
        Dialect::Postgres => &POSTGRES,
    }
}
