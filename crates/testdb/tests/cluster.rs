//! The throwaway server: a fresh database per call, reachable by its URL,
//! and a role that refuses a wrong password.

#[test]
fn each_test_gets_its_own_empty_database_reachable_by_url() {
    let (Some(one), Some(two)) = (techlead_testdb::database(), techlead_testdb::database()) else {
        return;
    };
    assert_ne!(one.name, two.name);
    let mut client = postgres::Client::connect(&one.url, postgres::NoTls).unwrap();
    let row = client
        .query_one("SELECT current_database(), current_setting('fsync')", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), one.name);
    assert_eq!(row.get::<_, String>(1), "on");
    let tables: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);
}

#[test]
fn the_password_role_needs_its_password() {
    let Some(db) = techlead_testdb::database() else {
        return;
    };
    let cluster = techlead_testdb::cluster().unwrap();
    let user = techlead_testdb::PASSWORD_USER;
    let right = cluster.url(user, Some("right"), &db.name);
    let wrong = cluster.url(user, Some("wrong"), &db.name);
    assert!(postgres::Client::connect(&right, postgres::NoTls).is_ok());
    let Err(error) = postgres::Client::connect(&wrong, postgres::NoTls) else {
        panic!("a wrong password was taken");
    };
    assert_eq!(
        error.code(),
        Some(&postgres::error::SqlState::INVALID_PASSWORD),
        "{error:?}"
    );
}
