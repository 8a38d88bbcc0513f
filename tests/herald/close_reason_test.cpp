// The close table: the contract that clients read.
#include "herald/close_reason.hpp"

#include <set>
#include <string>

#include <boost/test/unit_test.hpp>

#include "herald/token.hpp"

using namespace herald;

BOOST_AUTO_TEST_SUITE(close_reason)

BOOST_AUTO_TEST_CASE(every_reason_is_told_apart_by_its_text_and_fits_a_close_frame) {
    std::set<std::string_view> texts;
    for (const CloseReason* entry : close_reasons::all) {
        BOOST_TEST(texts.insert(entry->reason).second, "twice: " << entry->reason);
        BOOST_TEST(entry->reason.size() <= 123u);  // a close frame's payload is 125 bytes
        BOOST_TEST(!entry->slug.empty());
        BOOST_TEST((entry->code == 1001 || entry->code == 1008 || entry->code == 1012 ||
                    entry->code == 1013));
    }
}

BOOST_AUTO_TEST_CASE(a_refused_token_closes_with_the_words_of_its_http_refusal) {
    for (TokenError error :
         {TokenError::malformed, TokenError::unsupported_algorithm, TokenError::bad_signature,
          TokenError::expired, TokenError::not_yet_valid, TokenError::wrong_audience,
          TokenError::wrong_issuer, TokenError::no_sub, TokenError::no_exp}) {
        const CloseReason& reason = close_reasons::token_refusal(error);
        BOOST_TEST(reason.reason == describe(error));
        BOOST_TEST((reason.comeback ==
                    (error == TokenError::expired ? Comeback::with_new_token : Comeback::never)));
    }
}

BOOST_AUTO_TEST_CASE(closes_of_a_healthy_client_say_come_back_and_refusals_do_not) {
    for (const CloseReason* healthy :
         {&close_reasons::shutdown, &close_reasons::slow_consumer, &close_reasons::pong_timeout,
          &close_reasons::try_again_later, &close_reasons::stream_reset, &close_reasons::reconnect})
        BOOST_TEST((healthy->comeback == Comeback::now), healthy->reason);
    for (const CloseReason* refused : {&close_reasons::uid_missing, &close_reasons::token_required,
                                       &close_reasons::token_signature,
                                       &close_reasons::token_no_exp, &close_reasons::disconnected})
        BOOST_TEST((refused->comeback == Comeback::never), refused->reason);
}

BOOST_AUTO_TEST_SUITE_END()
