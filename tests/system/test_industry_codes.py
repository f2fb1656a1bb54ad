from chanye.system.industry_codes import catalogue


def test_catalogue_holds_gbt4754_2017() -> None:
    codes = catalogue()
    assert len(codes.sections) == 20
    assert len([c for c in codes.codes.values() if c.level == "division"]) == 97
    assert len(codes.classes()) == 1381
    assert codes.name("3612") == "新能源车整车制造"
    assert codes.name("6520") == "集成电路设计"
    assert "3741" in codes  # 飞机制造, restored under group 374


def test_single_class_groups_are_valid_by_their_class() -> None:
    codes = catalogue()
    # Group 362 holds a single class, 3620 汽车用发动机制造: both codes are valid.
    assert "3620" in codes and "362" in codes
    assert "9999" not in codes and "36" in codes
