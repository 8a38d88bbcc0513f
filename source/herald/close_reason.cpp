#include "herald/close_reason.hpp"

#include "herald/token.hpp"

namespace herald::close_reasons {

const CloseReason& token_refusal(TokenError error) {
    switch (error) {
        case TokenError::malformed:
            return token_malformed;
        case TokenError::unsupported_algorithm:
            return token_algorithm;
        case TokenError::bad_signature:
            return token_signature;
        case TokenError::expired:
            return token_expired;
        case TokenError::not_yet_valid:
            return token_not_yet_valid;
        case TokenError::wrong_audience:
            return token_audience;
        case TokenError::wrong_issuer:
            return token_issuer;
        case TokenError::no_sub:
            return token_no_sub;
        case TokenError::no_exp:
            return token_no_exp;
    }
    return token_malformed;
}

}  // namespace herald::close_reasons
