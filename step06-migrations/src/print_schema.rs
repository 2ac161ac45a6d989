//! `db print-schema`: `schema.rs` for the database as it is, as diesel's
//! own `print-schema` writes it, so that who writes the SQL first needs no
//! diesel command-line tool to get diesel's picture of it.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::Error;
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
/// comment saying so, for the reader to decide.
pub fn print_schema(conn: &mut SqliteConnection) -> Result<String, Error> {
    let names = tables(conn)?;
    let (mut tables_text, mut joins) = (Vec::new(), Vec::new());
    for table in &names {
        let columns: Vec<Column> =
            diesel::sql_query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)")
                .bind::<Text, _>(table)
                .load(conn)?;
        let mut key: Vec<&Column> = columns.iter().filter(|c| c.pk > 0).collect();
        key.sort_by_key(|c| c.pk);
        let key: Vec<&str> = key.iter().map(|c| c.name.as_str()).collect();
        let lines: Vec<String> = columns.iter().map(column_line).collect();
        tables_text.push(format!(
            "diesel::table! {{\n    {table} ({}) {{\n{}\n    }}\n}}\n",
            key.join(", "),
            lines.join("\n")
        ));
        let keys: Vec<ForeignKey> =
            diesel::sql_query("SELECT \"table\", \"from\" FROM pragma_foreign_key_list(?)")
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
fn column_line(column: &Column) -> String {
    let (rust, known) = diesel_type(&column.r#type);
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

/// diesel's SQL type for a column declared `declared`, by SQLite's own
/// affinity rules, and whether it is one this step knows.
fn diesel_type(declared: &str) -> (&'static str, bool) {
    let declared = declared.to_ascii_uppercase();
    match declared.as_str() {
        "TIMESTAMP" | "DATETIME" => ("Timestamp", true),
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
