//! `db print-schema`: `schema.rs` for the database as it is, as diesel's
//! own `print-schema` writes it, so that who writes the SQL first needs no
//! diesel command-line tool to get diesel's picture of it.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::Error;
use crate::backend::Conn;
use crate::migrate::tables;

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    r#type: String,
    #[diesel(sql_type = BigInt)]
    notnull: i64,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    from: String,
}

// ANCHOR: print_schema
/// The `table!` of every table (diesel's own version table left out), a
/// `joinable!` for each foreign key, and the line that lets them meet in a
/// query. A column type it does not know is printed as `Text` with a
/// comment saying so, for the reader to decide. SQLite's catalogue is its
/// `pragma_` tables; PostgreSQL's, the standard `information_schema`.
pub fn print_schema(conn: &mut Conn) -> Result<String, Error> {
    let names = tables(conn)?;
    let (mut tables_text, mut joins) = (Vec::new(), Vec::new());
    for table in &names {
        let (columns, foreign_keys) = match conn {
            Conn::Sqlite(_) => (SQLITE_COLUMNS, SQLITE_FOREIGN_KEYS),
            Conn::Postgres(_) => (POSTGRES_COLUMNS, POSTGRES_FOREIGN_KEYS),
        };
        let columns: Vec<Column> = diesel::sql_query(columns)
            .bind::<Text, _>(table)
            .load(conn)?;
        let mut key: Vec<&Column> = columns.iter().filter(|c| c.pk > 0).collect();
        key.sort_by_key(|c| c.pk);
        let key: Vec<&str> = key.iter().map(|c| c.name.as_str()).collect();
        let postgres = matches!(conn, Conn::Postgres(_));
        let lines: Vec<String> = columns.iter().map(|c| column_line(c, postgres)).collect();
        tables_text.push(format!(
            "diesel::table! {{\n    {table} ({}) {{\n{}\n    }}\n}}\n",
            key.join(", "),
            lines.join("\n")
        ));
        let keys: Vec<ForeignKey> = diesel::sql_query(foreign_keys)
            .bind::<Text, _>(table)
            .load(conn)?;
        joins.extend(keys.into_iter().map(|fk| {
            format!(
                "diesel::joinable!({table} -> {} ({}));\n",
                fk.table, fk.from
            )
        }));
    }
    let together = format!(
        "diesel::allow_tables_to_appear_in_same_query!({});\n",
        names.join(", ")
    );
    Ok(format!(
        "{}\n{}{together}",
        tables_text.join("\n"),
        joins.concat()
    ))
}

/// One column of a `table!`: `name -> Type,`, `Nullable` where SQL allows
/// NULL (a primary key never does).
fn column_line(column: &Column, postgres: bool) -> String {
    let (rust, known) = diesel_type(&column.r#type, postgres);
    let rust = match column.notnull == 0 && column.pk == 0 {
        true => format!("Nullable<{rust}>"),
        false => rust.to_owned(),
    };
    let note = match known {
        true => String::new(),
        false => format!(" // SQL type {}: check it", column.r#type),
    };
    format!("        {} -> {rust},{note}", column.name)
}

const SQLITE_COLUMNS: &str = "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)";
const SQLITE_FOREIGN_KEYS: &str = "SELECT \"table\", \"from\" FROM pragma_foreign_key_list(?)";
const POSTGRES_COLUMNS: &str = "
    SELECT c.column_name AS name, c.data_type AS type,
           CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END::bigint AS notnull,
           COALESCE((SELECT k.ordinal_position FROM information_schema.key_column_usage k
                     JOIN information_schema.table_constraints t
                       USING (constraint_schema, constraint_name)
                     WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema
                       AND k.table_name = c.table_name AND k.column_name = c.column_name), 0)::bigint AS pk
    FROM information_schema.columns c
    WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position";
const POSTGRES_FOREIGN_KEYS: &str = "
    SELECT u.table_name AS \"table\", k.column_name AS \"from\"
    FROM information_schema.table_constraints t
    JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)
    JOIN information_schema.constraint_column_usage u USING (constraint_schema, constraint_name)
    WHERE t.constraint_type = 'FOREIGN KEY' AND t.table_schema = current_schema() AND t.table_name = $1";

/// diesel's SQL type for a column declared `declared`, by SQLite's own
/// affinity rules and PostgreSQL's type names, and whether it is one this
/// step knows.
fn diesel_type(declared: &str, postgres: bool) -> (&'static str, bool) {
    let declared = declared.to_ascii_uppercase();
    match declared.as_str() {
        // A SQLite INTEGER holds 64 bits; PostgreSQL's holds 32.
        "INTEGER" if postgres => ("Integer", true),
        "SMALLINT" => ("SmallInt", true),
        _ if declared.starts_with("TIMESTAMP") || declared == "DATETIME" => ("Timestamp", true),
        "BOOLEAN" | "BOOL" => ("Bool", true),
        "DATE" => ("Date", true),
        _ if declared.contains("INT") => ("BigInt", true),
        _ if ["CHAR", "CLOB", "TEXT"]
            .iter()
            .any(|t| declared.contains(t)) =>
        {
            ("Text", true)
        }
        _ if declared.contains("BLOB") => ("Binary", true),
        _ if ["REAL", "FLOA", "DOUB"]
            .iter()
            .any(|t| declared.contains(t)) =>
        {
            ("Double", true)
        }
        _ => ("Text", false),
    }
}
// ANCHOR_END: print_schema
