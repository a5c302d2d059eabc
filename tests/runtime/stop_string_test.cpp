// StopStringFilter: streamed text never shows any part of a stop string, and text that only
// looked like the start of one is released once it is clear.
#include <slm/generator.h>

#include <gtest/gtest.h>

namespace slm {
namespace {

std::string stream(StopStringFilter& f, const std::vector<std::string>& pieces) {
    std::string out;
    for (const std::string& p : pieces) {
        out += f.push(p);
        if (f.stopped()) return out;
    }
    return out + f.flush();
}

TEST(StopStrings, StopsBeforeTheStopString) {
    StopStringFilter f({"\nUser:"});
    EXPECT_EQ(stream(f, {"Hello", " there", "\nUs", "er:", " more"}), "Hello there");
    EXPECT_TRUE(f.stopped());
}

TEST(StopStrings, HoldsBackOnlyWhatCouldStartAStop) {
    StopStringFilter f({"END"});
    EXPECT_EQ(f.push("abcE"), "abc");
    EXPECT_EQ(f.push("N"), "");
    EXPECT_EQ(f.push("x"), "ENx");  // not a stop after all
    EXPECT_EQ(f.push("yEN"), "y");
    EXPECT_EQ(f.flush(), "EN");
    EXPECT_FALSE(f.stopped());
}

TEST(StopStrings, StopInsideOnePiece) {
    StopStringFilter f({"</s>", "###"});
    EXPECT_EQ(stream(f, {"one ### two </s>"}), "one ");
}

TEST(StopStrings, EarliestOfSeveral) {
    StopStringFilter f({"b", "a"});
    EXPECT_EQ(stream(f, {"xxab"}), "xx");
}

TEST(StopStrings, NoStopsPassesEverything) {
    StopStringFilter f({});
    EXPECT_EQ(f.push("abc"), "abc");
    EXPECT_EQ(f.flush(), "");
}

}  // namespace
}  // namespace slm
