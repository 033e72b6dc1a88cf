//! Register checks: each worker of a submitted order is looked up in
//! Folkeregisteret and Aa-registeret; the back office sees the findings,
//! never the number, and cannot approve cards the registers refuse. A
//! register that does not answer holds the check; it never passes it.

use hms_proto::orders::v1 as orders;
use hms_test_support::fakes::register_persons as persons;
use hms_test_support::{ExpectRefused, TestEnv, eventually, fixtures};
use tonic::Code;

use crate::common::*;

/// A submitted order of these workers (name on the order, number), each
/// with their three documents.
async fn submitted(
    clients: &mut Clients,
    company_id: &str,
    workers: &[(&str, &str)],
) -> Result<orders::Order, tonic::Status> {
    let order = clients
        .owner
        .orders
        .create_order(orders::CreateOrderRequest {
            company_id: company_id.to_owned(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            workers: workers
                .iter()
                .map(|(name, number)| new_worker(name, number))
                .collect(),
        })
        .await
        .expect("create an order")
        .into_inner()
        .order
        .expect("an order");
    upload_all_documents(clients, &order).await;
    submit(clients, &order.order_id).await
}

fn check(worker: &orders::Worker) -> orders::RegisterCheck {
    worker.register_check.clone().expect("a register check")
}

async fn approve_refused(clients: &mut Clients, order_id: &str, says: &str) {
    clients
        .back_office
        .orders
        .approve_order(orders::ApproveOrderRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .expect_refused(Code::FailedPrecondition, says);
}

async fn remove(clients: &mut Clients, order_id: &str, worker_id: &str) {
    clients
        .owner
        .orders
        .remove_worker(orders::RemoveWorkerRequest {
            order_id: order_id.to_owned(),
            worker_id: worker_id.to_owned(),
        })
        .await
        .expect("remove a worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_back_office_sees_what_the_registers_say_and_cannot_approve_what_they_refuse() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let (kari, per) = (fixtures::fodselsnummer(), fixtures::fodselsnummer());
    env.register_person(&kari, "Kari Marie Testesen").await;
    env.register_person(&per, "Per Persen").await;

    let order = submitted(
        &mut clients,
        &company_id,
        &[
            ("Kari Testesen", &kari),
            ("Pål Persen", &per),
            ("Ulla Utflyttet", persons::EMIGRATED),
            ("Arne Arbeidsløs", persons::WITHOUT_WORK),
            ("Dag Dødsen", persons::DECEASED),
            ("Ukjent Person", persons::UNKNOWN),
        ],
    )
    .await
    .expect("submit");
    use orders::{EmploymentFinding as Job, PersonFinding as Person};
    let found: Vec<(i32, bool, i32)> = order
        .workers
        .iter()
        .map(|worker| {
            let check = check(worker);
            assert_eq!(check.state, orders::RegisterCheckState::Done as i32);
            assert!(check.checked_at.is_some());
            (check.person, check.name_matches, check.employment)
        })
        .collect();
    assert_eq!(
        found,
        vec![
            // A middle name left out still matches.
            (Person::Resident as i32, true, Job::Active as i32),
            // Another first name does not, which the back office sees.
            (Person::Resident as i32, false, Job::Active as i32),
            (Person::Emigrated as i32, true, Job::Active as i32),
            (Person::Resident as i32, true, Job::None as i32),
            (Person::Deceased as i32, true, Job::None as i32),
            (Person::NotFound as i32, false, Job::None as i32),
        ]
    );

    // Each refusing worker stops the approval, named by position, until
    // the company takes them off.
    let order_id = order.order_id.clone();
    for (position, says) in [
        (4, "worker 4 has no active employment with the company"),
        (5, "worker 5 is registered as deceased"),
        (6, "worker 6 is not in Folkeregisteret"),
    ] {
        approve_refused(&mut clients, &order_id, says).await;
        let worker = order.workers[position - 1].worker_id.clone();
        remove(&mut clients, &order_id, &worker).await;
    }
    // A name spelt otherwise and an emigrated worker are the back
    // office's judgement: approvable.
    let approved = approve(&mut clients, &order_id).await;
    assert_eq!(approved.status, orders::OrderStatus::Approved as i32);
    assert_eq!(approved.workers.len(), 3);
    receipt(&mut clients, &order_id, SOON).await;

    let logs = env.logs();
    for number in [
        kari.as_str(),
        per.as_str(),
        persons::WITHOUT_WORK,
        persons::DECEASED,
    ] {
        assert!(
            !logs.contains(number),
            "a national identity number was logged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_that_does_not_answer_holds_the_check_and_never_passes_it() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let worker = fixtures::fodselsnummer();

    env.register_down("folkeregisteret", true).await;
    let order = submitted(&mut clients, &company_id, &[("Ola Nordmann", &worker)])
        .await
        .expect("a submit does not wait for the registers");
    let pending = check(&order.workers[0]);
    assert_eq!(pending.state, orders::RegisterCheckState::Pending as i32);
    assert!(
        pending.waiting_for.contains("Folkeregisteret"),
        "{}",
        pending.waiting_for
    );
    approve_refused(&mut clients, &order.order_id, "not finished").await;
    // Tried again meanwhile, and still not passed.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    approve_refused(&mut clients, &order.order_id, "Folkeregisteret").await;

    env.register_down("folkeregisteret", false).await;
    let owner = clients.owner.orders.clone();
    let order_id = order.order_id.clone();
    eventually("the check done once the register answers", SOON * 2, || {
        let mut owner = owner.clone();
        let order_id = order_id.clone();
        async move {
            let order = owner
                .get_order(orders::GetOrderRequest { order_id })
                .await
                .ok()?
                .into_inner()
                .order?;
            let check = order.workers[0].register_check.clone()?;
            (check.state == orders::RegisterCheckState::Done as i32).then_some(())
        }
    })
    .await;
    approve(&mut clients, &order.order_id).await;
    receipt(&mut clients, &order.order_id, SOON).await;
    assert!(!env.logs().contains(worker.as_str()));
}
