// Boost.Test supplies main(); each test executable compiles this file once.
#define BOOST_TEST_MODULE herald
#include <boost/test/unit_test.hpp>
