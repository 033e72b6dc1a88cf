//! Identity as orders needs it: the subject key of each worker, which
//! identity alone can compute and which the worker's own access token
//! carries, so that a worker who logs in finds the records about them.

use hms_domain::Fodselsnummer;
use hms_grpc::client::ServiceChannel;
use hms_proto::identity::v1::SubjectKeysRequest;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;

use crate::error::OrderError;

/// The most numbers one call names (identity's limit).
const AT_ONCE: usize = 100;

#[derive(Clone)]
pub struct Subjects {
    identity: IdentityServiceClient<ServiceChannel>,
}

impl Subjects {
    pub fn new(identity: IdentityServiceClient<ServiceChannel>) -> Self {
        Self { identity }
    }

    /// The subject key of each number, in order.
    pub async fn keys<'a>(
        &self,
        numbers: impl IntoIterator<Item = &'a Fodselsnummer>,
    ) -> Result<Vec<String>, OrderError> {
        let numbers: Vec<String> = numbers
            .into_iter()
            .map(|number| number.expose().to_owned())
            .collect();
        let mut keys = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(AT_ONCE) {
            let answer = self
                .identity
                .clone()
                .subject_keys(SubjectKeysRequest {
                    national_ids: chunk.to_vec(),
                })
                .await
                .map_err(|status| match status.code() {
                    tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
                        OrderError::IdentityUnavailable(status.message().to_owned())
                    }
                    code => OrderError::Corrupt(format!("identity refused subject keys: {code:?}")),
                })?
                .into_inner();
            if answer.subject_keys.len() != chunk.len() {
                return Err(OrderError::Corrupt(
                    "identity answered for other numbers than asked".to_owned(),
                ));
            }
            keys.extend(answer.subject_keys);
        }
        Ok(keys)
    }
}
