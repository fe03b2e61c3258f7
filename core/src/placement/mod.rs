//! Where Incus may place an instance: the candidate rules of `GetCandidateMembers`
//! (`incus-placement.md` §2.1 and §3.5), each excluded member with the reason, which no Incus
//! tool explains today.

mod candidates;

pub use candidates::{candidates, candidates_by_load, CandidateQuery, Candidates, Exclusion};
